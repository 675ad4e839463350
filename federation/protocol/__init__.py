"""Wire contracts shared by nodes and the hub; this package imports nothing else of the project."""
