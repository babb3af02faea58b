"""postseal's certificate authority as pure functions: keys, templates, certificates,
CRLs, trust-store parsing, path validation and PKCS#12 export.

No clock, no store: times, serial numbers and keys are passed in.
"""
