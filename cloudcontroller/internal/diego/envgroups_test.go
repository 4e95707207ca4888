package diego

import (
	"slices"
	"testing"
)

// The running environment variable group is in every instance's
// environment, after CF's system variables and before the app's own,
// which win.
func TestDesireRunningEnvGroup(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	g, a := "g", "group"
	if _, err := e.st.UpdateEnvGroup(ctx, "running", map[string]*string{"G": &g, "A": &a}); err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	d := e.only(t, e.web.GUID)
	var names []string
	for _, ev := range d.Env {
		names = append(names, ev.Name)
	}
	if want := []string{"VCAP_APPLICATION", "VCAP_SERVICES", "MEMORY_LIMIT", "LANG", "CF_STACK", "G", "A", "B"}; !slices.Equal(names, want) {
		t.Errorf("env names %v, want %v", names, want)
	}
	if vars := envMap(d); vars["G"] != "g" || vars["A"] != "1" {
		t.Errorf("env %v", vars)
	}
}
