"""Declaration imports: file formats to rows, bulk stores, the parallel reader pipe."""
