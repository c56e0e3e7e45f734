import sys

from genrekit.cli.main import main

sys.exit(main())
