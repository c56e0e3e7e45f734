"""The ``genrekit`` command line: parse -> call the library -> print."""
