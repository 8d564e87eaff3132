"""A small SIP toolkit shared by the services that speak SIP themselves: the
provision service's NOTIFYs and the auth service's voice menu."""
