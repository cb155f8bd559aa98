/* placeholder: being written */
int pc__server_placeholder;
