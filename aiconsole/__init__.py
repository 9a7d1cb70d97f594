"""aiconsole: a terminal console for AI gateways built on Azure API Management.

This module must stay import-cheap: ``aiconsole --help`` imports it.
"""

__version__ = "0.1.0"
