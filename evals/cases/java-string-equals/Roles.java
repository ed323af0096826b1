public class Roles {
    public static boolean isAdmin(String role) {
        return role == "admin";
    }

    public static String label(String role) {
        return isAdmin(role) ? "Administrator" : "User";
    }
}
