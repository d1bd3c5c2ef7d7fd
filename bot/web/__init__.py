"""The web front (`newsbot web`): Datasette over the bot's database, read-only, private data out.

Above the store and the running bot, below the command line: it reads the database the bot
writes (never writes it), and the rules files for the entities' names and aliases.
"""
