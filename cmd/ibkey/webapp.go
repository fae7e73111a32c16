package main

import (
	"fmt"

	"ibkey/internal/webapp"
)

// openWebApp is the web app in dir (serve --web DIR: what make web built
// in build/web), or nil when dir is "".
func openWebApp(dir string) (*webapp.Handler, error) {
	if dir == "" {
		return nil, nil
	}
	h, err := webapp.New(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: --web %s: %w", dir, err)
	}
	return h, nil
}
