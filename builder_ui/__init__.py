"""The web builder: server-rendered pages in Simplified Chinese. Owns no business logic;
pages call the same services as the API.
"""
