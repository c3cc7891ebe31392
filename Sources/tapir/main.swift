print("tapir: the command line comes with the Lua host issue")
