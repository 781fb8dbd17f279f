"""Errors a user can fix from the message alone: stages report them without a traceback."""


class UserError(ValueError):
    """Bad input or configuration; the message says what is wrong and what to do."""


class ConfigError(UserError):
    """The configuration does not match the schema or contradicts the data."""


class InputFileError(UserError):
    """An input file cannot be read as the table it should hold."""
