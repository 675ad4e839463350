"""Usage segments learned at the node: citizens clustered by how they use the city's services."""
