package collect

import (
	"context"
	"strings"

	"github.com/work365/audit/internal/api"
)

// expanded completes a collection expanded inline in a row (a user's roles, a team's members), given the
// <nav>@odata.nextLink beside it.
//
// Dataverse puts that link on every expanded collection of an entity-set query, complete or not. What it leads
// to is documented inconsistently: Microsoft's sample response (payloads/systemusers_list_expand.json) carries a
// paging cookie that continues after the inline rows, so following it gives the rows still missing (none when
// the array was complete); a live organization was reported to send the plain query of the whole collection,
// which gives the inline rows again (github.com/context-and-oss/XrmDefinitelyTyped issue 319); and Microsoft's
// documentation says one level is returned inline when there is data, an empty array otherwise (MicrosoftDocs/
// powerapps-docs pull request 3544). Our reading: an inline array is complete unless it is as long as a page —
// the page size asked with Prefer: odata.maxpagesize, which bounds what the service returns at once — and then
// the link is followed and each row kept once by its key, which is correct whether the link continues the
// collection, repeats it, or leads to nothing. Following every link instead would cost a request per row of
// every such query, for nothing on a service that behaves as documented.
func expanded[T any](ctx context.Context, r *reader, stage string, inline []T, link string, key func(T) string) ([]T, error) {
	if link == "" || len(inline) < r.dv.PageSize() {
		return inline, nil
	}
	seen := make(map[string]bool, len(inline))
	for _, x := range inline {
		seen[strings.ToLower(key(x))] = true
	}
	out := inline
	err := eachLink(ctx, r, stage, link, func(x T) error {
		if k := strings.ToLower(key(x)); !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
		return nil
	})
	return out, err
}

// eachLink lists what an absolute link of the organization names, under the environment's bounds.
func eachLink[T any](ctx context.Context, r *reader, stage, link string, fn func(T) error) error {
	ctx, done, err := hold(ctx, r.requests, r.sem)
	if err != nil {
		return inStage(stage, err)
	}
	defer done()
	return inStage(stage, api.EachLink(ctx, r.dv, link, fn))
}

// formatted is the reader whose requests ask for formatted values (the names of the rows lookups point to).
func (r *reader) formatted() *reader {
	c := *r
	c.dv = r.dv.WithFormattedValues()
	return &c
}
