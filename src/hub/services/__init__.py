"""Hub services: every database query of the API lives here, one module per resource."""
