"""Reading cassettes: safe file reads, bounded YAML composing, strict validation, the
entry-by-entry fast path and the parsed-cassette cache. ``loader`` is the entry point
(``load_cassette``, ``parse_cassette``); nothing here ever writes a cassette file."""
