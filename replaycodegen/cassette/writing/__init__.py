"""Writing cassettes: the store (the only writer: locked, merged, scrubbed, atomic), its
lock folder, the entry spans of a file's text, the splice that rewrites only the entries
that change, and the serializer."""
