module example.com/needsmodule

go 1.24

require example.com/missing v1.0.0
