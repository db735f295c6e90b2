"""``python -m zg_agent.cli train|compare ...``."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
