package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Settings are the parts of the policy data (data.w365.config, with the config's policy_data merged over it)
// that the rest of the program acts on too: what to collect, what audit fix may assign, which environments are
// production, what the inventory shows. They are decoded once, when the engine is loaded, so a value of the
// wrong type is an error of the configuration, not a silent default.
type Settings struct {
	// AppIDs are the Work 365 App IDs by data-centre geo (US, EU, …), lower-cased.
	AppIDs map[string]string `json:"app_ids"`
	// Regions maps a BAP location to its geo.
	Regions map[string]string `json:"regions"`
	// Roles names the two roles the guide requires.
	Roles RoleNames `json:"roles"`
	// MinVersion is the minimum Work 365 version.
	MinVersion string `json:"min_version"`
	// LookbackDays is W365.JOBS.1's window.
	LookbackDays int `json:"lookback_days"`
	// SandboxTypes are the environment types that count as sandboxes.
	SandboxTypes []string `json:"sandbox_types"`
	// NonProductionTypes are the environment types that are not production; every other type is.
	NonProductionTypes []string `json:"non_production_types"`
	// BuiltinUsers are the names of the system-managed users every organization has.
	BuiltinUsers []string `json:"builtin_users"`
}

// RoleNames are the names of the Work 365 roles.
type RoleNames struct {
	Service string `json:"service"` // Work 365 Service
	Portal  string `json:"portal"`  // Work 365 Portal Service
}

// Names lists the role names that are set, service first.
func (n RoleNames) Names() []string {
	var out []string
	for _, s := range []string{n.Service, n.Portal} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// DefaultNonProductionTypes are Microsoft's environment types that are not production.
var DefaultNonProductionTypes = []string{"Sandbox", "Developer", "Trial"}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// decodeSettings reads the settings from the merged policy data.
func decodeSettings(cfg map[string]any) (Settings, error) {
	var s Settings
	raw, err := json.Marshal(cfg)
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok && te.Field != "" {
			return Settings{}, fmt.Errorf("%s: a %s where the policies expect a %s", te.Field, te.Value, te.Type)
		}
		return Settings{}, err
	}
	geos := make([]string, 0, len(s.AppIDs))
	for geo := range s.AppIDs {
		geos = append(geos, geo)
	}
	sort.Strings(geos)
	for _, geo := range geos {
		id := s.AppIDs[geo]
		if !guid.MatchString(id) {
			return Settings{}, fmt.Errorf("app_ids.%s: %q is not a GUID (the Application ID of the Work 365 app in that geo)", geo, id)
		}
		s.AppIDs[geo] = strings.ToLower(id)
	}
	if s.LookbackDays <= 0 {
		s.LookbackDays = 7
	}
	if len(s.SandboxTypes) == 0 {
		s.SandboxTypes = []string{"Sandbox"}
	}
	if len(s.NonProductionTypes) == 0 {
		s.NonProductionTypes = append([]string(nil), DefaultNonProductionTypes...)
	}
	return s, nil
}

func asTypeError(err error, target **json.UnmarshalTypeError) bool { return errors.As(err, target) }

// Settings are the engine's decoded policy data.
func (e *Engine) Settings() Settings { return e.settings }

// ReadSettings decodes the settings of the policies that Load would compile with opts, reading only their
// data files: a run can start reading tenants, which needs the App IDs and role names, while the rules
// compile.
func ReadSettings(opts Options) (Settings, error) {
	sources, err := sourcesOf(opts)
	if err != nil {
		return Settings{}, err
	}
	data := map[string]any{}
	for _, src := range sources {
		var files []string
		err := fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && path.Base(p) == "data.json" {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return Settings{}, fmt.Errorf("read policies from %s: %w", src.Name, err)
		}
		sort.Strings(files)
		for _, p := range files {
			raw, err := fs.ReadFile(src.FS, p)
			if err != nil {
				return Settings{}, fmt.Errorf("read %s: %w", display(src, p), err)
			}
			if err := mergeDataFile(data, path.Dir(p), raw); err != nil {
				return Settings{}, &LoadError{File: display(src, p), Msg: err.Error()}
			}
		}
	}
	mergeConfigData(data, opts.Data)
	w, _ := data["w365"].(map[string]any)
	c, _ := w["config"].(map[string]any)
	s, err := decodeSettings(c)
	if err != nil {
		return Settings{}, &LoadError{File: settingsSource, Msg: err.Error()}
	}
	return s, nil
}

const settingsSource = "policy data (data.w365.config and the config's policy_data)"
