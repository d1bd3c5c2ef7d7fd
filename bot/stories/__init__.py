"""Stories: when two items are the same. An item's key within its feed (identity.py: GUID,
canonical link, content hash) and its story keys across feeds (keys.py: URL/GUID keys and
title bands, and the rule that decides on a candidate). Pure functions, no I/O."""
