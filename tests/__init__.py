"""The test suite, a package so that test modules of one basename in different folders do not
collide (tests/cli/test_stress.py and tests/evaluate/test_stress.py). See tests/README.md."""
