"""S/MIME 4.0 (RFC 8551) over CMS (RFC 5652): sign, verify, encrypt and decrypt.

Pure domain code: bytes and values in, values out. Chain validation and the clock are
passed in by the caller.
"""
