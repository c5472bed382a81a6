# METADATA
# title: The application user's name starts with "# Work 365"
# description: Acme names every application user "# <product>" so admins recognise it.
# custom:
#   id: ACME.NAMING.1
#   severity: low
#   remediation: Rename the application user.
package acme.naming

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

deny contains {"message": sprintf("The application user is named %q.", [user.full_name]), "evidence": {"user_id": user.id}} if {
	lib.applicable
	user := lib.app_user
	not startswith(user.full_name, "# Work 365")
}
