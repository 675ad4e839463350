"""`python -m federation.protocol.schema`: regenerate the JSON Schema files of the wire models."""

from federation.protocol.schema import write_schemas

if __name__ == "__main__":
    for path in write_schemas():
        print(path)
