"""The dashboard's pages: one module each, with PAGE, layout(**query) and register_callbacks."""
