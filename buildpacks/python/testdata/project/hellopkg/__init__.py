"""A project installed from pyproject.toml by python_buildpack."""


def hello():
    return "hello from an installed project"
