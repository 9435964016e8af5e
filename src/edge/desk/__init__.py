"""The manual desk: one operator scans, weighs and places a parcel where the line cannot."""
