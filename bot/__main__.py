from bot.cli import main

# The guard matters: parse workers are spawned processes that re-import the main module.
if __name__ == "__main__":
    raise SystemExit(main())
