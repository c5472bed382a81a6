package collect

import (
	"context"
	"strings"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireJob is an asyncoperations row.
type wireJob struct {
	ID              string    `json:"asyncoperationid"`
	Name            string    `json:"name"`
	Message         string    `json:"message"`
	FriendlyMessage string    `json:"friendlymessage"`
	ErrorCode       int       `json:"errorcode"`
	CreatedOn       time.Time `json:"createdon"`
	CompletedOn     time.Time `json:"completedon"`
	OwnerID         string    `json:"_ownerid_value"`
}

// statusFailed is asyncoperation.statuscode Failed.
const statusFailed = 31

// failedJobs counts failed Work 365 system jobs created in the lookback window and keeps the newest few.
func (r *reader) failedJobs(ctx context.Context) (snapshot.FailedJobs, error) {
	since := r.c.opts.Now().UTC().AddDate(0, 0, -r.c.opts.LookbackDays).Truncate(time.Second)
	out := snapshot.FailedJobs{LookbackDays: r.c.opts.LookbackDays, Since: since, Recent: []snapshot.Job{}}
	filter := "statuscode eq 31 and createdon ge " + since.Format(time.RFC3339)
	if len(r.c.opts.JobNamePrefixes) > 0 {
		parts := make([]string, len(r.c.opts.JobNamePrefixes))
		for i, p := range r.c.opts.JobNamePrefixes {
			parts[i] = "startswith(name," + api.Quote(p) + ")"
		}
		filter += " and (" + strings.Join(parts, " or ") + ")"
	}
	q := api.Query("asyncoperations",
		[2]string{"$select", "asyncoperationid,name,message,friendlymessage,errorcode,createdon,completedon,_ownerid_value"},
		[2]string{"$filter", filter},
		[2]string{"$orderby", "createdon desc"})
	err := list(ctx, r, "asyncoperations", q, func(j wireJob) error {
		out.Count++
		if len(out.Recent) < r.c.opts.RecentJobs {
			msg := j.FriendlyMessage
			if msg == "" {
				msg = j.Message
			}
			out.Recent = append(out.Recent, snapshot.Job{ID: j.ID, Name: j.Name, Message: trimMessage(msg),
				ErrorCode: j.ErrorCode, CreatedOn: j.CreatedOn, CompletedOn: j.CompletedOn, OwnerID: j.OwnerID})
		}
		return nil
	})
	return out, err
}

// trimMessage keeps job messages readable in a report: the first lines, not a stack trace.
func trimMessage(s string) string {
	s = strings.TrimSpace(s)
	const max = 400
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
