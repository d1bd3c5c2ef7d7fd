# The guard matters: parse workers are spawned processes that run this module again (as
# __mp_main__); inside it they import nothing of the command line (each worker costs memory).
if __name__ == "__main__":
    from bot.cli import main

    raise SystemExit(main())
