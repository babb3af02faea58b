"""``python -m postseal``."""

from postseal.cli.main import main

raise SystemExit(main())
