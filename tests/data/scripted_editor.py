"""A stand-in for $EDITOR in the `replaycodegen edit` tests.

Usage: ``python scripted_editor.py FILE``. Replaces FILE's content with the content of
the file named by ``SCRIPTED_EDITOR_SOURCE`` (or leaves FILE untouched when unset), and
appends FILE's original content to ``SCRIPTED_EDITOR_LOG`` when set, so a test can see
what the editor was shown.
"""

import os
import shutil
import sys

target = sys.argv[1]
log = os.environ.get("SCRIPTED_EDITOR_LOG")
if log:
    with open(target, encoding="utf-8") as shown, open(log, "a", encoding="utf-8") as out:
        out.write(shown.read())
source = os.environ.get("SCRIPTED_EDITOR_SOURCE")
if source:
    shutil.copyfile(source, target)
    later = os.stat(target).st_mtime + 2  # a saved file looks saved, even on coarse clocks
    os.utime(target, (later, later))
