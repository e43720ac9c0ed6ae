"""Clientbook: customers, contacts, equipment and admin documents, kept from the keyboard."""

__version__ = "0.1.0"
