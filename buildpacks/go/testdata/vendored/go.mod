module example.com/greeter/v2

go 1.24

require example.com/greet v1.0.0
