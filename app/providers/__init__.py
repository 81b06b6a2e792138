"""Image and text providers behind one registry interface, one module per provider."""
