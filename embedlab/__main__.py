import sys

from embedlab.settings import SettingsError, get_settings

try:
    get_settings()  # a bad EMBEDLAB_* value stops every command before it starts: one line naming the variable
except SettingsError as error:
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(2) from None

from embedlab.cli import main  # noqa: E402

raise SystemExit(main())
