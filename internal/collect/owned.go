package collect

import (
	"context"

	"github.com/work365/audit/internal/api"
)

// ownedRow is a flow, connection reference or template reduced to what the rules report.
type ownedRow struct {
	id, name, display, extra, ownerID string
	state                             int
	flag                              bool
}

type wireFlow struct {
	ID        string `json:"workflowid"`
	Name      string `json:"name"`
	StateCode int    `json:"statecode"`
	OwnerID   string `json:"_ownerid_value"`
}

// cloudFlows reads the cloud flows (workflows of category 5) with their owners.
func (r *reader) cloudFlows(ctx context.Context) ([]ownedRow, error) {
	q := api.Query("workflows",
		[2]string{"$select", "workflowid,name,statecode,_ownerid_value"},
		[2]string{"$filter", "category eq 5"})
	var out []ownedRow
	err := list(ctx, r, "workflows", q, func(w wireFlow) error {
		out = append(out, ownedRow{id: w.ID, name: w.Name, state: w.StateCode, ownerID: w.OwnerID})
		return nil
	})
	return out, err
}

type wireConnectionReference struct {
	ID          string `json:"connectionreferenceid"`
	LogicalName string `json:"connectionreferencelogicalname"`
	DisplayName string `json:"connectionreferencedisplayname"`
	ConnectorID string `json:"connectorid"`
	OwnerID     string `json:"_ownerid_value"`
}

// connectionReferences reads the connection references with their owners.
func (r *reader) connectionReferences(ctx context.Context) ([]ownedRow, error) {
	q := api.Query("connectionreferences",
		[2]string{"$select", "connectionreferenceid,connectionreferencelogicalname,connectionreferencedisplayname,connectorid,_ownerid_value"})
	var out []ownedRow
	err := list(ctx, r, "connectionreferences", q, func(w wireConnectionReference) error {
		out = append(out, ownedRow{id: w.ID, name: w.LogicalName, display: w.DisplayName, extra: w.ConnectorID, ownerID: w.OwnerID})
		return nil
	})
	return out, err
}

type wireTemplate struct {
	ID         string `json:"templateid"`
	Title      string `json:"title"`
	IsPersonal bool   `json:"ispersonal"`
	OwnerID    string `json:"_ownerid_value"`
}

// emailTemplates reads the email templates with their owners.
func (r *reader) emailTemplates(ctx context.Context) ([]ownedRow, error) {
	q := api.Query("templates", [2]string{"$select", "templateid,title,ispersonal,_ownerid_value"})
	var out []ownedRow
	err := list(ctx, r, "templates", q, func(w wireTemplate) error {
		out = append(out, ownedRow{id: w.ID, name: w.Title, flag: w.IsPersonal, ownerID: w.OwnerID})
		return nil
	})
	return out, err
}
