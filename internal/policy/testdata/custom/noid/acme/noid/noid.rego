package acme.noid

deny contains "no metadata" if true
