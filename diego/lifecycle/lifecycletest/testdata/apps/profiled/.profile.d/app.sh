export ORDER="$ORDER:app"
export APP_PROFILE=yes
