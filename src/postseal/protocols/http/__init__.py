"""HTTP: the PKI publication endpoint (CA certificates and CRLs) and, later, the webmail."""
