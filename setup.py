"""Package discovery, the one thing pyproject.toml cannot say: every `gancli*` package is found,
and `conf/`, kept at the top level for people to read, ships as the package `gancli.conf`
(mapped by `package-dir` in pyproject.toml), which a search of the tree cannot see by that name."""

from setuptools import find_packages, setup

setup(packages=sorted({*find_packages(include=["gancli", "gancli.*"]), "gancli.conf"}))
