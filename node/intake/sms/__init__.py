"""The SMS channel: a signed gateway webhook and the keyword grammar of its messages."""
