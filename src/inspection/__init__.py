"""Customs control domain: identity, declarations, formats, rules, checks and the decision."""
