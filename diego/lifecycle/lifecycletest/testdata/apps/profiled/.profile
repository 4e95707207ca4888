export ORDER="$ORDER:dotprofile"
