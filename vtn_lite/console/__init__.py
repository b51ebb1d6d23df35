"""vtn_lite's operator console at ``/console/`` (docs/console.md): login, VEN status, dispatch.

:func:`vtn_lite.console.app.install` adds it to the VTN's application; the VTN's auth path
reports each authenticated request to the console's check-in tracker.
"""
