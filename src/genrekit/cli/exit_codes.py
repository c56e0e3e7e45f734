"""The process exit statuses every ``genrekit`` command returns."""

EXIT_OK = 0  # the command did what it was asked
EXIT_FAILURE = 1  # it ran, and something failed (a file, a check)
EXIT_USAGE = 2  # the command line or an input was refused before any work
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C (128 + SIGINT)
