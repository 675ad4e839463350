"""The e-mail channel: an MTA pipe (`carmen node ingest-email`) and an authenticated webhook."""
