"""The queries every backend module answers: tapegrad runs none of them."""


def is_available():
    return False


def is_built():
    return False
