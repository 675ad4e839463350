"""What a node and the hub both run on: database, migrations, settings and the Celery factory.

It imports nothing of the project, so that node and hub can share it without sharing tables,
models or each other's code.
"""
