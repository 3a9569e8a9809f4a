"""Discovery: mDNS/DNS-SD announce and browse, static and file fallbacks."""
