"""A node's database, settings and signing key are created readable by their owner only."""

import os
import stat

from node.instance import initialise
from node.sync import enrollment as sync


def test_the_database_settings_and_signing_key_are_owner_only(tmp_path):
    old = os.umask(0o022)  # the usual umask: without care, files come out world-readable
    try:
        instance = tmp_path / "bologna"
        initialise(
            path=instance,
            city="Bologna",
            country="IT",
            population=390_000,
            admin_email="admin@comune.example",
            admin_password="not-used-here",
        )
        sync.load_or_create_key(instance)
    finally:
        os.umask(old)
    files = [instance / "node.toml", instance / sync.KEY_FILE]
    files += [path for path in instance.iterdir() if path.name.startswith("node.db")]
    assert any(path.name == "node.db" for path in files)
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"
